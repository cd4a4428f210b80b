with indicator_figures as (
    select * from {{ ref('mart_semiannual_indicator') }}
),

rules as (
    select * from {{ ref('award_rules') }}
),

evaluated as (
    select
        rules.award_code,
        rules.award_name_vi,
        rules.unit_level,
        indicator_figures.unit_structure,
        indicator_figures.unit_code,
        indicator_figures.unit_name,
        indicator_figures.parent_code,
        indicator_figures.period_id,
        rules.indicator_code,
        indicator_figures.value,
        indicator_figures.numerator,
        indicator_figures.denominator,
        rules.comparator,
        rules.threshold,
        {{ meets_target(
            'indicator_figures.numerator', 'indicator_figures.denominator',
            'rules.threshold', 'rules.comparator'
        ) }} as eligible,
        round(
            100.0 * indicator_figures.numerator / nullif(indicator_figures.denominator, 0)
            - rules.threshold,
            2
        ) as margin,
        {{ exact_ratio('indicator_figures.numerator', 'indicator_figures.denominator') }} as exact_ratio,
        indicator_figures.last_loaded_at,
        rules.candidates_note,
        rules.plan_ref
    from rules
    inner join indicator_figures
        on
            rules.indicator_code = indicator_figures.indicator_code
            and rules.unit_level = indicator_figures.unit_level
),

final as (
    select
        award_code,
        award_name_vi,
        unit_level,
        unit_structure,
        unit_code,
        unit_name,
        parent_code,
        period_id,
        indicator_code,
        value,
        numerator,
        denominator,
        comparator,
        threshold,
        coalesce(eligible, false) as eligible,
        margin,
        case
            when eligible
                then rank() over (
                    partition by award_code, unit_structure, unit_level, period_id, eligible
                    order by exact_ratio desc
                )::integer
        end as candidate_rank,
        candidates_note,
        plan_ref,
        last_loaded_at
    from evaluated
)

select * from final
