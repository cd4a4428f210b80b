{#- The year grain of mart_unit_scorecard (Plan 86 VI.6's yearly report), from mart_annual_indicator. -#}
with indicator_figures as (
    select * from {{ ref('mart_annual_indicator') }}
),

units as (
    select * from {{ ref('dim_unit') }}
),

-- The catalogue version that applies to each period (int_indicator_periods).
indicators as (
    select * from {{ ref('int_indicator_periods') }}
),

periods as (
    select distinct period_id from indicator_figures
),

{{ scorecard_scored() }},

final as (
    select
        {{ scorecard_columns() | indent(8) }}
    from scored
    where scored.indicators_measured > 0
)

select * from final
