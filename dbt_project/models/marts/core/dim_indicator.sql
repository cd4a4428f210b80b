-- One row per version of an indicator (macros/catalogue_version.sql): a new plan adds versions.
with indicators as (
    select * from {{ ref('indicators') }}
),

final as (
    select
        indicator_code,
        name_vi as indicator_name_vi,
        name_en as indicator_name_en,
        string_to_array(levels, '|') as applicable_levels,
        -- The levels the plan sets the target for; elsewhere the figure is monitoring only.
        coalesce(string_to_array(nullif(target_levels, ''), '|'), array[]::text[]) as target_levels,
        unit = 'flag' as is_qualitative,
        plan_ref,
        numerator_definition,
        denominator_definition,
        unit as value_unit,
        comparator,
        target_value,
        target_year,
        met_rule,
        year_basis,
        source as primary_source,
        -- The window the primary source's figures cover (macros/window_basis.sql).
        {{ window_basis('source') }} as window_basis,
        note,
        catalogue_version,
        valid_from,
        {{ catalogue_valid_to(['indicator_code']) }} as valid_to
    from indicators
)

select * from final
