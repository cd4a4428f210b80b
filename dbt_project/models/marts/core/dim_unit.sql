with units as (
    select * from {{ ref('units') }}
),

final as (
    select
        units.code as unit_code,
        units.name as unit_name,
        units.level as unit_level,
        units.unit_type,
        nullif(units.parent_code, '') as parent_code,
        coalesce(
            case when units.level = 'province' then units.code end,
            case when parent.level = 'province' then parent.code end,
            parent.parent_code
        ) as province_code,
        case
            when units.level = 'district' then units.code
            when units.level = 'commune' then units.parent_code
        end as district_code,
        units.valid_from,
        units.valid_to,
        coalesce(units.valid_to >= current_date, true) as is_current
    from units
    left join units as parent on units.parent_code = parent.code
)

select * from final
