{#- The year grain of mart_unit_scorecard (Plan 86 VI.6's yearly report), from mart_annual_indicator.
    Incremental by year, following mart_annual_indicator (macros/incremental_periods.sql). -#}
{%- set rebuilt = changed_periods(upstream=ref('mart_annual_indicator')) %}

with indicator_figures as (
    select * from {{ ref('mart_annual_indicator') }}
    {{ where_changed_period('period_id', rebuilt) }}
),

units as (
    select * from {{ ref('dim_unit') }}
),

-- The catalogue version that applies to each period (int_indicator_periods).
indicators as (
    select * from {{ ref('int_indicator_periods') }}
),

periods as (
    select
        period_id,
        min(load_signature) as load_signature
    from indicator_figures
    group by period_id
),

{{ scorecard_scored() }},

final as (
    select
        {{ scorecard_columns() | indent(8) }},
        periods.load_signature
    from scored
    inner join periods on scored.period_id = periods.period_id
    where scored.indicators_measured > 0
)

select * from final
