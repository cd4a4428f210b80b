with observations as (
    select * from {{ ref('int_portal_observations_unpivoted') }}
),

crosswalk as (
    select * from {{ ref('unit_crosswalk') }}
),

final as (
    select
        crosswalk.unit_code,
        observations.indicator_code,
        observations.period_id,
        observations.source_system,
        observations.source_unit_id,
        observations.numerator,
        observations.denominator,
        {{ safe_ratio('observations.numerator', 'observations.denominator') }} as value,
        observations.batch_id,
        observations.loaded_at
    from observations
    inner join crosswalk
        on
            observations.source_system = crosswalk.source
            and observations.source_unit_id = crosswalk.source_unit_id
)

select * from final
