-- Each unit's latest accepted submission for a half-year: a resubmission replaces the whole
-- previous one (the batch ledger keeps the history). A row that answered "no data" (issue 14:
-- "không có", "-", "N/A"... in its figure cells) is the unit's report without a figure:
-- is_no_data, numerator and denominator null, never 0/0.
with source as (
    select * from {{ source('raw_uploads', 'unit_upload_observations') }}
),

current_batch as (
    {{ current_batch('unit_upload_observations') }}
),

renamed as (
    select
        source.batch_id,
        source.period_id,
        source.submitted_by,
        source.unit_code || '@' || source.unit_valid_from as source_unit_id,
        source.unit_code,
        source.indicator_code,
        -- Whole numbers: the upload validation refuses fractional counts.
        source.numerator::bigint as numerator,
        source.denominator::bigint as denominator,
        source.value::numeric as value,
        -- Rows landed before the flag existed are figures.
        coalesce(source.no_data, false) as is_no_data,
        source.file_name,
        source.sheet,
        source.row_no,
        current_batch.loaded_at
    from source
    inner join current_batch on source.batch_id = current_batch.batch_id
),

final as (
    select * from renamed
)

select * from final
