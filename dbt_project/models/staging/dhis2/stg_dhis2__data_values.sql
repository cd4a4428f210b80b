-- The latest value of each data element, org unit and half-year across the loaded batches:
-- an import updates the values it carries and leaves the others, as DHIS2 does. A latest value
-- marked deleted (DHIS2's deleted: true, an import's DELETE, a pull with includeDeleted) means
-- the key holds no value: it is left out. Batches landed before deletions were kept have null.
with source as (
    select * from {{ source('raw_dhis2', 'dhis2_data_values') }}
),

ledger as (
    select * from {{ source('raw_ledger', 'load_batch') }}
),

data_elements as (
    select * from {{ ref('dhis2_data_elements') }}
),

-- distinct on rather than row_number() = 1: PostgreSQL estimates its output from the key's
-- distinct values, where a filter on a window function looks like a few thousand rows and
-- sends a national build (millions of values) into nested loops.
loaded as (
    select distinct on (
        source.data_element,
        source.org_unit,
        source.period,
        source.category_option_combo,
        source.attribute_option_combo
    )
        source.*,
        ledger.finished_at as loaded_at,
        ledger.submitted_at as batch_submitted_at
    from source
    inner join ledger on source.batch_id = ledger.batch_id
    where ledger.status = 'loaded'
    order by
        source.data_element asc,
        source.org_unit asc,
        source.period asc,
        source.category_option_combo asc,
        source.attribute_option_combo asc,
        source.batch_id desc
),

current_values as (
    select * from loaded
    where coalesce(deleted, 'false') != 'true'
),

renamed as (
    select
        loaded.batch_id,
        loaded.period as period_id,
        loaded.org_unit as source_unit_id,
        loaded.data_element as data_element_uid,
        data_elements.data_element_code,
        data_elements.indicator_code,
        data_elements.part,
        nullif(loaded.value, '')::bigint as value,
        loaded.stored_by,
        -- DHIS2 writes lastUpdated in the server's local time without a zone: a Vietnamese
        -- reporting system's, the province's (var dxw_timezone). A time with an offset keeps it.
        case
            when loaded.last_updated ~ '(Z|[+-]\d{2}(:?\d{2})?)$' then loaded.last_updated::timestamptz
            when loaded.last_updated ~ '^\d{4}-\d{2}-\d{2}'
                then loaded.last_updated::timestamp at time zone '{{ var("dxw_timezone") }}'
        end as last_updated,
        case
            when loaded.created ~ '(Z|[+-]\d{2}(:?\d{2})?)$' then loaded.created::timestamptz
            when loaded.created ~ '^\d{4}-\d{2}-\d{2}'
                then loaded.created::timestamp at time zone '{{ var("dxw_timezone") }}'
        end as created_at,
        loaded.batch_submitted_at,
        loaded.loaded_at
    from current_values as loaded
    inner join data_elements on loaded.data_element = data_elements.data_element_uid
),

final as (
    select * from renamed
)

select * from final
