{#-
  The year grain of mart_semiannual_indicator (Plan 86 VI.6: reports every 6 months and every
  year), from the official facts of the year and of its two half-years. Its change since the
  previous year compares with that year as published (gated), like the half-years'.

  Incremental by year (macros/incremental_periods.sql): a year is rebuilt when the facts it is
  made of change (its own or its half-years': year_signatures()) or when the year before it is
  published anew; a national new half-year rebuilds its year, not the whole mart.
-#}
{%- set published = source('published', 'mart_annual_indicator') %}
{%- set published_exists = existing_relation(published) %}
{%- set rebuilt = changed_periods(expected=signatures_with_published_previous(
    year_signatures(ref('fct_indicator_observation')), published_exists, 'year'
)) %}

with halfyears as (
    select * from {{ ref('fct_indicator_observation') }}
    where
        period_id ~ '^[0-9]{4}S[12]$' and is_official
    {{ where_changed_period('period_id', with_halfyears_of_years(rebuilt), 'and') }}
),

-- What a source reports for a whole year (a year period id): the year's own figure.
reported_years as (
    select
        unit_structure,
        unit_code,
        indicator_code,
        period_id,
        numerator,
        denominator,
        true as covers_year,
        loaded_at as last_loaded_at,
        {{ window_basis('source_system') }} as lowest_window_basis,
        {{ window_basis('source_system') }} as highest_window_basis
    from {{ ref('fct_indicator_observation') }}
    where
        period_id ~ '^[0-9]{4}$' and is_official
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
    {{ where_changed_period('period_id', rebuilt) }}
),

-- Per year, the state of the facts it is made of (none in a unit test's fixture without signatures).
signatures as (
    {{ year_signatures(ref('fct_indicator_observation')) }}
),

-- A unit's own figure for the year (dim_indicator.year_basis): counts of what happened add up
-- over its two half-years, which make up the Decree 09 year (15 Dec - 14 Dec) exactly (the
-- portal's calendar half-years make up the calendar year, macros/window_basis.sql); a state
-- is the one at the year's cut-off, the second half-year's figure (none without it).
unit_years as (
    select
        halfyears.unit_structure,
        halfyears.unit_code,
        halfyears.indicator_code,
        left(halfyears.period_id, 4) as period_id,
        case
            when indicators.year_basis = 'year_end'
                then max(halfyears.numerator) filter (where right(halfyears.period_id, 1) = '2')
            else sum(halfyears.numerator)
        end as numerator,
        case
            when indicators.year_basis = 'year_end'
                then max(halfyears.denominator) filter (where right(halfyears.period_id, 1) = '2')
            else sum(halfyears.denominator)
        end as denominator,
        -- A half-year answered "no data" (an upload's is_no_data) does not cover its half.
        indicators.year_basis = 'year_end'
        or count(*) filter (where halfyears.is_no_data is not true) = 2 as covers_year,
        max(halfyears.loaded_at) as last_loaded_at,
        min({{ window_basis('halfyears.source_system') }}) as lowest_window_basis,
        max({{ window_basis('halfyears.source_system') }}) as highest_window_basis
    from halfyears
    inner join indicators
        on
            halfyears.indicator_code = indicators.indicator_code
            and left(halfyears.period_id, 4) = indicators.period_id
    group by
        halfyears.unit_structure,
        halfyears.unit_code,
        halfyears.indicator_code,
        left(halfyears.period_id, 4),
        indicators.year_basis
),

-- A year a source reported itself is taken as reported; the others are made of their half-years
-- (a state without its year-end figure is no figure).
observations as (
    select * from reported_years

    union all

    select unit_years.*
    from unit_years
    left join reported_years
        on
            unit_years.unit_structure = reported_years.unit_structure
            and unit_years.unit_code = reported_years.unit_code
            and unit_years.indicator_code = reported_years.indicator_code
            and unit_years.period_id = reported_years.period_id
    where
        reported_years.unit_code is null
        and (unit_years.numerator is not null or unit_years.denominator is not null)
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
        bool_and(observations.covers_year) as covers_year,
        max(observations.last_loaded_at) as last_loaded_at,
        min(observations.lowest_window_basis) as lowest_window_basis,
        max(observations.highest_window_basis) as highest_window_basis
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

qualitative_units as (
    {{ qualitative_units_applicable('year') }}
),

-- The years before the rebuilt ones as published (gated): none before the first publish of a
-- year. A copy published by a release before signatures has none: it counts as unpublished in
-- the signature, and its values are compared all the same.
published_values as (
    {%- if published_exists %}
        select
            unit_structure,
            unit_code,
            indicator_code,
            period_id,
            value,
            {{ 'load_signature' if has_signatures(published_exists) else 'null::bigint as load_signature' }}
        from {{ published }}
        {{ where_changed_period('period_id', previous_years(rebuilt)) }}
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

-- Judged against the plan as the half-years are (macros/indicator_assessment.sql).
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
        assessed.covers_year,
        assessed.reporting_units::integer as reporting_units,
        coverage.coverage_level,
        coverage.units_at_level,
        coverage.units_with_data,
        assessed.window_basis,
        {{ window_basis_start('assessed.window_basis', 'assessed') }} as window_start,
        {{ window_basis_end('assessed.window_basis', 'assessed') }} as window_end,
        assessed.last_loaded_at,
        {{ with_previous_signature('signatures.load_signature', 'previous_signature.load_signature') }}
            as load_signature
    from assessed
    left join coverage
        on
            assessed.unit_structure = coverage.unit_structure
            and assessed.unit_code = coverage.unit_code
            and assessed.indicator_code = coverage.indicator_code
            and assessed.period_id = coverage.period_id
    left join published_values as previous
        on
            assessed.unit_structure = previous.unit_structure
            and assessed.unit_code = previous.unit_code
            and assessed.indicator_code = previous.indicator_code
            and {{ previous_period('assessed.period_id', 'year') }} = previous.period_id
    left join signatures on assessed.period_id = signatures.period_id
    left join published_signatures as previous_signature
        on {{ previous_period('assessed.period_id', 'year') }} = previous_signature.period_id
)

select * from final
