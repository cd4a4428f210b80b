{#-
  Incremental by half-year (macros/incremental_periods.sql): a changed half-year is rebuilt
  with the next one, whose change_since_previous it moves; the value of the half-year before a
  rebuilt one comes from this table when that half-year is not rebuilt itself.
-#}
{%- set rebuilt = halfyears_and_next(changed_periods(upstream=ref('fct_indicator_observation'))) %}

with observations as (
    select * from {{ ref('fct_indicator_observation') }}
    where
        period_id ~ '^[0-9]{4}S[12]$' and is_official
    {{ where_changed_period('period_id', rebuilt, 'and') }}
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

periods as (
    select * from {{ ref('dim_period') }}
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
        max(observations.loaded_at) as last_loaded_at,
        -- One per half-year: the state of the facts it was built from.
        min(observations.load_signature) as load_signature
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

-- Every value a rebuilt half-year may be compared with: its own and, on an incremental build,
-- those of the half-years just before the rebuilt ones, as this table holds them.
known_values as (
    select
        unit_structure,
        unit_code,
        indicator_code,
        period_id,
        value
    from measured
    {{ union_kept_values(previous_halfyears_not_in(rebuilt)) }}
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
        measured.value - previous.value as change_since_previous,
        rank() over (
            partition by
                measured.unit_structure, measured.indicator_code, measured.period_id, units.unit_level
            order by measured.value desc nulls last
        )::integer as rank_in_level,
        measured.reporting_units::integer as reporting_units,
        -- The unit's own days in the half-year's Decree 09 window: 0 for a from_2025 unit
        -- before 1 July 2025 (its predecessors' figures restated under it).
        {{ unit_days_in_period(
            'units.valid_from', 'units.valid_to', 'periods.decree09_start', 'periods.decree09_end'
        ) }} as unit_days_in_period,
        units.valid_from <= periods.decree09_start
        and coalesce(units.valid_to, periods.decree09_end) >= periods.decree09_end as covers_whole_period,
        measured.last_loaded_at,
        measured.load_signature
    from measured
    inner join units
        on
            measured.unit_code = units.unit_code
            and measured.unit_structure = units.unit_structure
    inner join indicators on measured.indicator_code = indicators.indicator_code
    inner join periods on measured.period_id = periods.period_id
    left join known_values as previous
        on
            measured.unit_structure = previous.unit_structure
            and measured.unit_code = previous.unit_code
            and measured.indicator_code = previous.indicator_code
            and {{ previous_halfyear('measured.period_id') }} = previous.period_id
)

select * from final
