-- One row per source unit, indicator and period: each source's counts as the numerator and
-- denominator of the catalogue's indicators.
with provide_online as (
    select * from {{ ref('stg_portal__provide_online') }}
),

progress as (
    select * from {{ ref('stg_portal__dvc_progress') }}
),

work_dossiers as (
    select * from {{ ref('stg_dms__work_dossiers') }}
),

portal as (
    select
        'public_service_portal' as source_system,
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
        'public_service_portal' as source_system,
        source_unit_id,
        period_id,
        'PS_ON_TIME' as indicator_code,
        dossiers_on_time as numerator,
        dossiers_completed as denominator,
        batch_id,
        loaded_at
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
        loaded_at
    from dms_measures
),

final as (
    select * from portal
    union all
    select * from dms
)

select * from final
