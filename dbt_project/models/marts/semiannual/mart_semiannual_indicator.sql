{#-
  Incremental by half-year (macros/incremental_periods.sql). change_since_previous compares with
  the previous half-year as published (gated) in `marts`, never with its ungated build: a
  half-year is rebuilt when its facts change or when the half-year before it is published anew.
-#}
{%- set published = source('published', 'mart_semiannual_indicator') %}
{%- set published_exists = existing_relation(published) %}
{%- set rebuilt = changed_periods(expected=signatures_with_published_previous(
    ref('fct_indicator_observation'), published if published_exists else none
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
        measured.last_loaded_at,
        {{ with_previous_signature('measured.load_signature', 'previous_signature.load_signature') }}
            as load_signature
    from measured
    inner join units
        on
            measured.unit_code = units.unit_code
            and measured.unit_structure = units.unit_structure
    inner join indicators on measured.indicator_code = indicators.indicator_code
    left join published_values as previous
        on
            measured.unit_structure = previous.unit_structure
            and measured.unit_code = previous.unit_code
            and measured.indicator_code = previous.indicator_code
            and {{ previous_halfyear('measured.period_id') }} = previous.period_id
    left join published_signatures as previous_signature
        on {{ previous_halfyear('measured.period_id') }} = previous_signature.period_id
)

select * from final
