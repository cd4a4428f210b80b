-- One row per portal agency, indicator and period: the portal's counts as numerator and
-- denominator of the catalogue's indicators.
with provide_online as (
    select * from {{ ref('stg_portal__provide_online') }}
),

progress as (
    select * from {{ ref('stg_portal__dvc_progress') }}
),

unpivoted as (
    select
        source_unit_id,
        period_id,
        'PS_FULL_ONLINE' as indicator_code,
        services_fully_online as numerator,
        services_online as denominator,
        batch_id,
        loaded_at
    from provide_online

    union all

    select
        source_unit_id,
        period_id,
        'PS_ON_TIME' as indicator_code,
        dossiers_on_time as numerator,
        dossiers_completed as denominator,
        batch_id,
        loaded_at
    from progress
),

final as (
    select
        'public_service_portal' as source_system,
        *
    from unpivoted
)

select * from final
