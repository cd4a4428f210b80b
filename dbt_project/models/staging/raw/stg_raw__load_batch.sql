with source as (
    select * from {{ source('raw_ledger', 'load_batch') }}
),

latest as (
    select
        batch_id,
        source as source_system,
        dataset,
        period_id,
        scope,
        checksum,
        row_count,
        finished_at as loaded_at,
        submitted_at,
        details ->> 'submitted_at_basis' as submitted_at_basis,
        row_number() over (
            partition by dataset, period_id, scope order by batch_id desc
        ) as recency
    from source
    where status = 'loaded'
),

final as (
    select
        batch_id,
        source_system,
        dataset,
        period_id,
        scope,
        checksum,
        row_count,
        loaded_at,
        submitted_at,
        submitted_at_basis
    from latest
    where recency = 1
)

select * from final
