-- A unit's own report for a half-year (Plan 86 VI.6): its upload, or its data set in the
-- reporting system. Figures a portal or the document-management system measured about a unit
-- are not its report and do not appear here. The time is when the unit submitted, as recorded
-- at intake, never when the warehouse loaded it.
with batches as (
    select * from {{ ref('stg_raw__load_batch') }}
),

data_values as (
    select * from {{ ref('stg_dhis2__data_values') }}
),

crosswalk as (
    select * from {{ ref('unit_crosswalk') }}
    where source = 'reporting_system'
),

-- The current upload of each submitting unit (the ledger's scope): a batch whose rows all say
-- "no data" is still the unit's report.
uploads as (
    select
        scope as unit_code,
        period_id,
        'unit_upload' as channel,
        batch_id,
        submitted_at,
        coalesce(submitted_at_basis, 'not_recorded') as submitted_at_basis
    from batches
    where dataset = 'unit_upload_observations' and scope != ''
),

-- A data set is submitted when the unit completes it: its completeDate (a file import that
-- carries one), else the last time one of its values was entered (lastUpdated), else, when the
-- system gives neither, the time the warehouse pulled it (flagged as such).
data_sets as (
    select
        crosswalk.unit_code,
        data_values.period_id,
        'reporting_system' as channel,
        max(data_values.batch_id) as batch_id,
        coalesce(
            max(data_values.batch_submitted_at),
            max(data_values.last_updated),
            min(data_values.loaded_at)
        ) as submitted_at,
        case
            when max(data_values.batch_submitted_at) is not null then 'completeDate'
            when max(data_values.last_updated) is not null then 'lastUpdated'
            else 'pull_time'
        end as submitted_at_basis
    from data_values
    inner join crosswalk on data_values.source_unit_id = crosswalk.source_unit_id
    group by crosswalk.unit_code, data_values.period_id
),

final as (
    select * from uploads
    union all
    select * from data_sets
)

select * from final
