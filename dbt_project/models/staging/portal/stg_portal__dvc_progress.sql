with source as (
    select * from {{ source('raw', 'portal_dvc_progress') }}
),

current_batch as (
    {{ current_batch('portal_dvc_progress') }}
),

renamed as (
    select
        source.batch_id,
        source.period_id,
        source.department_code as source_unit_id,
        source.department_id as portal_department_id,
        source.department_name,
        source.total_received::bigint as dossiers_received,
        source.total_completed::bigint as dossiers_completed,
        source.total_on_time::bigint as dossiers_on_time,
        source.total_overdue::bigint as dossiers_overdue,
        source.avg_processing_days::numeric(10, 2) as avg_processing_days,
        source.score::numeric(10, 2) as progress_score,
        source.max_score::numeric(10, 2) as progress_max_score,
        current_batch.loaded_at
    from source
    inner join current_batch on source.batch_id = current_batch.batch_id
),

final as (
    select * from renamed
)

select * from final
