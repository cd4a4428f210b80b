{#-
  The scorecard of a grain (half-year or year): per unit and period, the indicators the plan sets
  a target for at the unit's level, how many have a figure and how many meet it, and the mean
  gap of the ratios on their exact values (qualitative criteria never enter it). Needs CTEs
  `indicator_figures` (a mart of indicator figures), `units`, `indicators` (int_indicator_periods:
  the catalogue version of each period) and `periods` (one row per period_id to score).
-#}
{% macro scorecard_scored() -%}
-- Every indicator the plan sets a target for at the unit's level, for every period: a ratio
-- measured as monitoring elsewhere (services online at district level) does not count here.
applicable as (
    select
        units.unit_structure,
        units.unit_code,
        units.unit_name,
        units.unit_level,
        periods.period_id,
        indicators.indicator_code
    from units
    cross join periods
    inner join indicators
        on
            units.unit_level = any(indicators.target_levels)
            and periods.period_id = indicators.period_id
),

scored as (
    select
        applicable.unit_structure,
        applicable.unit_code,
        applicable.unit_name,
        applicable.unit_level,
        applicable.period_id,
        count(*)::integer as indicators_applicable,
        count(indicator_figures.target_met)::integer as indicators_measured,
        count(*) filter (where indicator_figures.target_met)::integer as indicators_met,
        -- Ratios only, on the exact ratios: a yes/no criterion has no gap in percentage points.
        avg(
            100.0 * indicator_figures.numerator / nullif(indicator_figures.denominator, 0)
            - indicator_figures.target_value
        ) filter (where not indicator_figures.is_qualitative) as exact_mean_gap
    from applicable
    left join indicator_figures
        on
            applicable.unit_code = indicator_figures.unit_code
            and applicable.unit_structure = indicator_figures.unit_structure
            and applicable.indicator_code = indicator_figures.indicator_code
            and applicable.period_id = indicator_figures.period_id
    group by
        applicable.unit_structure,
        applicable.unit_code,
        applicable.unit_name,
        applicable.unit_level,
        applicable.period_id
)
{%- endmacro %}


{#- The scorecard's columns from `scored`: standing is most indicators met, then the exact mean gap. -#}
{% macro scorecard_columns() -%}
scored.unit_structure,
scored.unit_code,
scored.unit_name,
scored.unit_level,
scored.period_id,
scored.indicators_applicable,
scored.indicators_measured,
scored.indicators_met,
round(100.0 * scored.indicators_met / scored.indicators_applicable, 2) as share_met,
round(scored.exact_mean_gap, 2) as mean_gap_to_target,
rank() over (
    partition by scored.unit_structure, scored.unit_level, scored.period_id
    order by scored.indicators_met desc, scored.exact_mean_gap desc nulls last
)::integer as standing_in_level
{%- endmacro %}
