with observations as (
    select * from {{ ref('fct_indicator_observation') }}
    where period_id ~ '^[0-9]{4}S[12]$' and is_official
),

memberships as (
    select * from {{ ref('int_unit_rollup') }}
),

units as (
    select * from {{ ref('dim_unit') }}
),

indicators as (
    select * from {{ ref('dim_indicator') }}
),

-- Ratios roll up as sum(numerators) / sum(denominators), never as an average of percentages.
aggregated as (
    select
        memberships.unit_structure,
        memberships.ancestor_code as unit_code,
        observations.indicator_code,
        observations.period_id,
        sum(observations.numerator) as numerator,
        sum(observations.denominator) as denominator,
        count(distinct observations.unit_code) as reporting_units,
        max(observations.loaded_at) as last_loaded_at
    from observations
    inner join memberships
        on
            observations.unit_code = memberships.member_code
            and observations.unit_structure = memberships.member_structure
    group by
        memberships.unit_structure,
        memberships.ancestor_code,
        observations.indicator_code,
        observations.period_id
),

measured as (
    select
        aggregated.*,
        {{ safe_ratio('aggregated.numerator', 'aggregated.denominator') }} as value
    from aggregated
),

final as (
    select
        measured.unit_structure,
        measured.unit_code,
        units.unit_name,
        units.unit_level,
        units.parent_code,
        measured.indicator_code,
        measured.period_id,
        measured.numerator::numeric(20, 4) as numerator,
        measured.denominator::numeric(20, 4) as denominator,
        measured.value,
        case
            when units.unit_level = any(indicators.applicable_levels) then indicators.target_value
        end as target_value,
        indicators.comparator,
        {{ meets_target(
            'measured.value',
            'case when units.unit_level = any(indicators.applicable_levels) then indicators.target_value end',
            'indicators.comparator'
        ) }} as target_met,
        case
            when units.unit_level = any(indicators.applicable_levels)
                then measured.value - indicators.target_value
        end as gap_to_target,
        measured.value - lag(measured.value) over (
            partition by measured.unit_structure, measured.unit_code, measured.indicator_code
            order by measured.period_id
        ) as change_since_previous,
        rank() over (
            partition by
                measured.unit_structure, measured.indicator_code, measured.period_id, units.unit_level
            order by measured.value desc nulls last
        )::integer as rank_in_level,
        measured.reporting_units::integer as reporting_units,
        measured.last_loaded_at
    from measured
    inner join units
        on
            measured.unit_code = units.unit_code
            and measured.unit_structure = units.unit_structure
    inner join indicators on measured.indicator_code = indicators.indicator_code
)

select * from final
