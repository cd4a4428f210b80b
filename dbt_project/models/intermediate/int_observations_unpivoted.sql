-- One row per source unit, indicator and period: each source's counts as the numerator and
-- denominator of the catalogue's indicators. is_no_data: a unit's upload answered "no data" for
-- the indicator (reported without a figure: numerator and denominator null); systems never do.
with provide_online as (
    select * from {{ ref('stg_portal__provide_online') }}
),

progress as (
    select * from {{ ref('stg_portal__dvc_progress') }}
),

work_dossiers as (
    select * from {{ ref('stg_dms__work_dossiers') }}
),

data_values as (
    select * from {{ ref('stg_dhis2__data_values') }}
),

uploaded as (
    select * from {{ ref('stg_uploads__observations') }}
),

crosswalk as (
    select * from {{ ref('unit_crosswalk') }}
    where source = 'public_service_portal'
),

units as (
    select * from {{ ref('dim_unit') }}
),

periods as (
    select * from {{ ref('dim_period') }}
),

eligible_catalogue as (
    select * from {{ ref('eligible_online_services') }}
),

-- Plan 86 IV.1.a divides by the services *eligible* for full online provision, which the portal
-- does not report: the count comes from the catalogue of eligible procedures in force at the end
-- of the period, the unit's own entry before its level's. No entry, no ratio (never the
-- services offered online, which include the partly online ones).
eligible as (
    select distinct on (provide_online.source_unit_id, provide_online.period_id)
        provide_online.source_unit_id,
        provide_online.period_id,
        eligible_catalogue.eligible_services
    from provide_online
    inner join crosswalk on provide_online.source_unit_id = crosswalk.source_unit_id
    inner join units
        on
            crosswalk.unit_code = units.unit_code
            and crosswalk.unit_valid_from = units.valid_from
    inner join periods on provide_online.period_id = periods.period_id
    inner join eligible_catalogue
        on
            (
                units.unit_code = eligible_catalogue.unit_code
                or units.unit_level = eligible_catalogue.unit_level
            )
            and periods.decree09_end >= eligible_catalogue.valid_from
    order by
        provide_online.source_unit_id asc,
        provide_online.period_id asc,
        eligible_catalogue.unit_code is null asc,
        eligible_catalogue.valid_from desc
),

portal as (
    select
        'public_service_portal' as source_system,
        provide_online.source_unit_id,
        provide_online.period_id,
        'PS_FULL_ONLINE' as indicator_code,
        -- No catalogue entry, no ratio: neither part (a numerator alone would inflate a roll-up).
        case
            when eligible.eligible_services is not null then provide_online.services_fully_online
        end as numerator,
        eligible.eligible_services as denominator,
        provide_online.batch_id,
        provide_online.loaded_at,
        false as is_no_data
    from provide_online
    left join eligible
        on
            provide_online.source_unit_id = eligible.source_unit_id
            and provide_online.period_id = eligible.period_id
    inner join periods on provide_online.period_id = periods.period_id
    -- A state is the one at the period's end: the portal answers every month an agency existed
    -- in, and an agency that ceased before the period's last calendar month (merged on 1 March
    -- 2025) has no state at its end; its successor gives it (stg_portal__provide_online).
    where provide_online.window_end = periods.calendar_end

    union all

    select
        'public_service_portal' as source_system,
        source_unit_id,
        period_id,
        'PS_ON_TIME' as indicator_code,
        dossiers_on_time as numerator,
        dossiers_completed as denominator,
        batch_id,
        loaded_at,
        false as is_no_data
    from progress
),

-- One measure feeds the plan's indicator of each level: fct keeps the level that applies.
dms_measures as (
    select
        work_dossiers.*,
        measures.indicator_code,
        case
            when measures.measure = 'signed' then work_dossiers.dossiers_signed_online
            else work_dossiers.dossiers_processed_online
        end as numerator
    from work_dossiers
    cross join (
        values
        ('DEPT_WORK_DOSSIERS_ONLINE', 'online'),
        ('DIST_WORK_DOSSIERS_SIGNED', 'signed'),
        ('COMM_WORK_DOSSIERS_ONLINE', 'online'),
        ('COMM_WORK_DOSSIERS_SIGNED', 'signed')
    ) as measures (indicator_code, measure)
),

dms as (
    select
        'document_management' as source_system,
        source_unit_id,
        period_id,
        indicator_code,
        numerator,
        dossiers_not_secret as denominator,
        batch_id,
        loaded_at,
        false as is_no_data
    from dms_measures
),

-- A reporting-system indicator is two data elements: its numerator and its denominator.
reporting as (
    select
        'reporting_system' as source_system,
        source_unit_id,
        period_id,
        indicator_code,
        sum(case when part = 'numerator' then value end) as numerator,
        sum(case when part = 'denominator' then value end) as denominator,
        max(batch_id) as batch_id,
        max(loaded_at) as loaded_at,
        false as is_no_data
    from data_values
    group by source_unit_id, period_id, indicator_code
    -- A ratio needs both its data elements: a lone part (one of the pair deleted in DHIS2, or not
    -- entered yet) is no figure, and its denominator alone would dilute every roll-up.
    having bool_or(part = 'numerator') and bool_or(part = 'denominator')
),

-- A unit's figures may come from its own file and from its parent's: the latest file wins.
uploads_ranked as (
    select
        uploaded.*,
        row_number() over (
            partition by uploaded.source_unit_id, uploaded.indicator_code, uploaded.period_id
            order by uploaded.loaded_at desc, uploaded.batch_id desc
        ) as recency
    from uploaded
),

uploads as (
    select
        'unit_upload' as source_system,
        source_unit_id,
        period_id,
        indicator_code,
        numerator,
        denominator,
        batch_id,
        loaded_at,
        is_no_data
    from uploads_ranked
    where recency = 1
),

final as (
    select * from portal
    union all
    select * from dms
    union all
    select * from reporting
    union all
    select * from uploads
)

select * from final
