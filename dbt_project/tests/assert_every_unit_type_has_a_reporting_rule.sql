-- Every unit level and type of the registry says whether it reports under Plan 86 VI.6 (seed
-- reporting_deadlines), for every period type the seed covers: a new type of unit would
-- otherwise drop out of mart_reporting_compliance without anyone deciding it has no duty.
with unit_types as (
    select distinct
        level as unit_level,
        unit_type
    from {{ ref('units') }}
),

period_types as (
    select distinct period_type from {{ ref('reporting_deadlines') }}
),

final as (
    select
        unit_types.unit_level,
        unit_types.unit_type,
        period_types.period_type
    from unit_types
    cross join period_types
    left join {{ ref('reporting_deadlines') }} as rules
        on
            unit_types.unit_level = rules.unit_level
            and unit_types.unit_type = rules.unit_type
            and period_types.period_type = rules.period_type
    where rules.reports is null
)

select * from final
