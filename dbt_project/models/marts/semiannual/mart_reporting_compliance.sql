{#- Incremental by half-year, following fct_indicator_observation (macros/incremental_periods.sql). -#}
{%- set rebuilt = changed_periods(upstream=ref('fct_indicator_observation')) %}

with observations as (
    select * from {{ ref('fct_indicator_observation') }}
    where
        period_id ~ '^[0-9]{4}S[12]$' and unit_structure = 'before_2025'
    {{ where_changed_period('period_id', rebuilt, 'and') }}
),

units as (
    select * from {{ ref('dim_unit') }}
    where unit_structure = 'before_2025'
),

indicators as (
    select * from {{ ref('dim_indicator') }}
),

periods as (
    select * from {{ ref('dim_period') }}
    where period_type = 'halfyear'
),

deadlines as (
    select * from {{ ref('reporting_deadlines') }}
    where period_type = 'halfyear'
),

reported_periods as (
    select
        period_id,
        min(load_signature) as load_signature
    from observations
    group by period_id
),

-- Every indicator of the catalogue that applies to the unit's level, for every half-year with data.
expected as (
    select
        units.unit_code,
        units.unit_name,
        units.unit_level,
        reported_periods.period_id,
        indicators.indicator_code
    from units
    cross join reported_periods
    inner join indicators on units.unit_level = any(indicators.applicable_levels)
    where units.unit_level != 'province'
),

per_unit as (
    select
        expected.unit_code,
        expected.unit_name,
        expected.unit_level,
        expected.period_id,
        count(distinct expected.indicator_code)::integer as indicators_applicable,
        count(distinct observations.indicator_code)::integer as indicators_reported,
        min(observations.loaded_at) as first_received_at,
        max(observations.loaded_at) as last_received_at
    from expected
    left join observations
        on
            expected.unit_code = observations.unit_code
            and expected.period_id = observations.period_id
            and expected.indicator_code = observations.indicator_code
    group by expected.unit_code, expected.unit_name, expected.unit_level, expected.period_id
),

final as (
    select
        per_unit.unit_code,
        per_unit.unit_name,
        per_unit.unit_level,
        per_unit.period_id,
        per_unit.indicators_reported > 0 as submitted,
        per_unit.indicators_applicable,
        per_unit.indicators_reported,
        round(100.0 * per_unit.indicators_reported / per_unit.indicators_applicable, 2) as completeness,
        (periods.decree09_end + deadlines.days_after_cutoff)::date as deadline,
        per_unit.first_received_at,
        per_unit.last_received_at,
        (per_unit.first_received_at at time zone 'Asia/Ho_Chi_Minh')::date
        <= periods.decree09_end + deadlines.days_after_cutoff as on_time,
        reported_periods.load_signature
    from per_unit
    inner join periods on per_unit.period_id = periods.period_id
    inner join reported_periods on per_unit.period_id = reported_periods.period_id
    cross join deadlines
)

select * from final
