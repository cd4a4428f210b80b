with source as (
    select * from {{ source('raw_dms', 'dms_work_dossiers') }}
),

current_batch as (
    {{ current_batch('dms_work_dossiers') }}
),

renamed as (
    select
        source.batch_id,
        source.period_id,
        source.org_code as source_unit_id,
        source.org_name as unit_name,
        source.dossiers_total::bigint as dossiers_total,
        source.dossiers_secret::bigint as dossiers_secret,
        (source.dossiers_total - source.dossiers_secret)::bigint as dossiers_not_secret,
        source.processed_online::bigint as dossiers_processed_online,
        source.signed_online::bigint as dossiers_signed_online,
        current_batch.loaded_at
    from source
    inner join current_batch on source.batch_id = current_batch.batch_id
),

final as (
    select * from renamed
)

select * from final
