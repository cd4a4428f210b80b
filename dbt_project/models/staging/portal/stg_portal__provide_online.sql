with source as (
    select * from {{ source('raw', 'portal_provide_online') }}
),

current_batch as (
    {{ current_batch('portal_provide_online') }}
),

renamed as (
    select
        source.batch_id,
        source.period_id,
        source.department_code as source_unit_id,
        source.department_id as portal_department_id,
        source.department_name,
        source.online_service_total::bigint as services_online,
        source.full_count::bigint as services_fully_online,
        source.partial_count::bigint as services_partly_online,
        source.online_dossier_count::bigint as dossiers_online,
        source.online_on_time_sum::bigint as dossiers_online_on_time,
        source.online_overdue_sum::bigint as dossiers_online_overdue,
        current_batch.loaded_at
    from source
    inner join current_batch on source.batch_id = current_batch.batch_id
),

final as (
    select * from renamed
)

select * from final
