-- Plan 86 III.4 a): the provincial board (Hội đồng Thi đua, khen thưởng tỉnh) picks 01 district
-- or city and 01 sector or unit as the province-level pilots: exactly one of each, and nothing
-- else at that level. One row per breach.
with province_pilots as (
    select
        pilots.unit_code,
        units.level as unit_level
    from {{ ref('pilot_units') }} as pilots
    left join {{ ref('units') }} as units
        on
            pilots.unit_code = units.code
            and pilots.unit_valid_from = units.valid_from
    where pilots.pilot_level = 'province'
),

required as (
    select 'district' as unit_level
    union all
    select 'department' as unit_level
),

final as (
    select
        required.unit_level,
        count(province_pilots.unit_code) as pilots,
        'the board must pick exactly one' as problem
    from required
    left join province_pilots on required.unit_level = province_pilots.unit_level
    group by required.unit_level
    having count(province_pilots.unit_code) <> 1
    union all
    select
        coalesce(unit_level, 'not a registry unit') as unit_level,
        count(*) as pilots,
        'a province-level pilot is a district or a department' as problem
    from province_pilots
    where unit_level is null or unit_level not in ('district', 'department')
    group by coalesce(unit_level, 'not a registry unit')
)

select * from final
