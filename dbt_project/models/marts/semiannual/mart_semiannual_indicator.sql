{#-
  Incremental by half-year (macros/incremental_periods.sql). change_since_previous compares with
  the previous half-year as published (gated) in `marts`, never with its ungated build: a
  half-year is rebuilt when its facts change or when the half-year before it is published anew.
-#}
{%- set published = source('published', 'mart_semiannual_indicator') %}
{%- set published_exists = existing_relation(published) %}
{%- set rebuilt = changed_periods(expected=signatures_with_published_previous(
    signatures_of(ref('fct_indicator_observation')), published_exists
)) %}

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

-- The catalogue version that applies to each period (int_indicator_periods).
indicators as (
    select * from {{ ref('int_indicator_periods') }}
),

periods as (
    select * from {{ ref('dim_period') }}
),

coverage as (
    select * from {{ ref('int_unit_coverage') }}
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
        count(distinct observations.unit_code) filter (
            where observations.is_no_data is not true
        ) as reporting_units,
        -- Units that reported the indicator without a figure ("no data"): not measured, not 0/0.
        count(distinct observations.unit_code) filter (where observations.is_no_data) as units_without_figure,
        bool_and(observations.is_no_data) as is_without_figure,
        max(observations.loaded_at) as last_loaded_at,
        -- Which window the figures cover (macros/window_basis.sql): the portal's calendar months.
        min({{ window_basis('observations.source_system') }}) as lowest_window_basis,
        max({{ window_basis('observations.source_system') }}) as highest_window_basis,
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

-- A qualitative criterion is no percentage: its roll-up counts the units that achieved it.
measured as (
    select
        aggregated.*,
        indicators.is_qualitative,
        case
            when not indicators.is_qualitative
                then {{ safe_ratio('aggregated.numerator', 'aggregated.denominator') }}
        end as value
    from aggregated
    inner join indicators
        on
            aggregated.indicator_code = indicators.indicator_code
            and aggregated.period_id = indicators.period_id
),

-- For a qualitative criterion, the units of its target level under each unit that exist in the
-- half-year: "met" needs every one of them to have achieved it.
qualitative_units as (
    {{ qualitative_units_applicable('halfyear') }}
),

-- The values of the half-years before the rebuilt ones as published (gated): none before the
-- first publish, and none of a half-year that was never published.
published_values as (
    {%- if published_exists %}
        select
            unit_structure,
            unit_code,
            indicator_code,
            period_id,
            value,
            load_signature
        from {{ published }}
        {{ where_changed_period('period_id', previous_halfyears(rebuilt)) }}
    {%- else %}
        select
            null::text as unit_structure,
            null::text as unit_code,
            null::text as indicator_code,
            null::text as period_id,
            null::numeric as value,
            null::bigint as load_signature
        where false
    {%- endif %}
),

published_signatures as (
    select
        period_id,
        min(load_signature) as load_signature
    from published_values
    group by period_id
),

assessed as (
    select
        measured.*,
        units.unit_name,
        units.unit_level,
        units.parent_code,
        indicators.target_value,
        indicators.comparator,
        qualitative_units.units_applicable,
        {{ target_applies('units', 'indicators', 'periods') }} as target_applies,
        -- The unit's own days in the half-year's Decree 09 window: 0 for a from_2025 unit
        -- before 1 July 2025 (its predecessors' figures restated under it).
        {{ unit_days_in_period(
            'units.valid_from', 'units.valid_to', 'periods.decree09_start', 'periods.decree09_end'
        ) }} as unit_days_in_period,
        units.valid_from <= periods.decree09_start
        and coalesce(units.valid_to, periods.decree09_end) >= periods.decree09_end as covers_whole_period,
        {{ combined_window_basis('measured.lowest_window_basis', 'measured.highest_window_basis') }}
            as window_basis,
        periods.calendar_start,
        periods.calendar_end,
        periods.decree09_start,
        periods.decree09_end
    from measured
    inner join units
        on
            measured.unit_code = units.unit_code
            and measured.unit_structure = units.unit_structure
    inner join indicators
        on measured.indicator_code = indicators.indicator_code and measured.period_id = indicators.period_id
    inner join periods on measured.period_id = periods.period_id
    left join qualitative_units
        on
            measured.unit_structure = qualitative_units.unit_structure
            and measured.unit_code = qualitative_units.unit_code
            and measured.indicator_code = qualitative_units.indicator_code
            and measured.period_id = qualitative_units.period_id
),

-- Judged against the plan (macros/indicator_assessment.sql); `value` is rounded for display only.
final as (
    select
        assessed.unit_structure,
        assessed.unit_code,
        assessed.unit_name,
        assessed.unit_level,
        assessed.parent_code,
        assessed.indicator_code,
        assessed.period_id,
        assessed.is_qualitative,
        assessed.numerator::numeric(20, 4) as numerator,
        assessed.denominator::numeric(20, 4) as denominator,
        assessed.value,
        case when assessed.is_qualitative then assessed.numerator::integer end as units_achieved,
        assessed.units_applicable,
        {{ indicator_assessment('assessed') }},
        assessed.value - previous.value as change_since_previous,
        assessed.reporting_units::integer as reporting_units,
        case
            when assessed.is_without_figure then 'reported_without_figure' else 'measured'
        end as figure_status,
        assessed.units_without_figure::integer as units_without_figure,
        coverage.coverage_level,
        coverage.units_at_level,
        coverage.units_with_data,
        assessed.unit_days_in_period,
        assessed.covers_whole_period,
        assessed.window_basis,
        {{ window_basis_start('assessed.window_basis', 'assessed') }} as window_start,
        {{ window_basis_end('assessed.window_basis', 'assessed') }} as window_end,
        assessed.last_loaded_at,
        {{ with_previous_signature('assessed.load_signature', 'previous_signature.load_signature') }}
            as load_signature
    from assessed
    left join published_values as previous
        on
            assessed.unit_structure = previous.unit_structure
            and assessed.unit_code = previous.unit_code
            and assessed.indicator_code = previous.indicator_code
            and {{ previous_halfyear('assessed.period_id') }} = previous.period_id
    left join coverage
        on
            assessed.unit_structure = coverage.unit_structure
            and assessed.unit_code = coverage.unit_code
            and assessed.indicator_code = coverage.indicator_code
            and assessed.period_id = coverage.period_id
    left join published_signatures as previous_signature
        on {{ previous_halfyear('assessed.period_id') }} = previous_signature.period_id
)

select * from final
