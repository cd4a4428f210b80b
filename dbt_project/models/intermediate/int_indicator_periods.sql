-- One row per indicator and period (every period of dim_period: month, quarter, half-year,
-- year): the catalogue version of the indicator that applies to the period, the one valid at the
-- period's Decree 09 cut-off (macros/catalogue_version.sql). The marts read targets, levels and
-- rules through this model, so a new plan's version (seed indicators.csv) judges the periods
-- after its start while earlier periods keep the targets of the plan they belong to.
with indicators as (
    select * from {{ ref('dim_indicator') }}
),

periods as (
    select * from {{ ref('dim_period') }}
),

final as (
    select
        periods.period_id,
        indicators.indicator_code,
        indicators.indicator_name_vi,
        indicators.indicator_name_en,
        indicators.applicable_levels,
        indicators.target_levels,
        indicators.is_qualitative,
        indicators.plan_ref,
        indicators.numerator_definition,
        indicators.denominator_definition,
        indicators.value_unit,
        indicators.comparator,
        indicators.target_value,
        indicators.target_year,
        indicators.met_rule,
        indicators.year_basis,
        indicators.primary_source,
        indicators.note,
        indicators.catalogue_version,
        indicators.valid_from,
        indicators.valid_to
    from indicators
    inner join periods
        on {{ catalogue_version_applies('indicators', 'periods.decree09_end') }}
)

select * from final
