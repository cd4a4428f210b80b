-- Plan 86 III.4 b): each district or city picks 01-03 of its own communes as district-level
-- pilots. Every district that existed when the registration closed (end of Q1 2022) must have
-- registered 1 to 3 communes, each a commune of the registry whose parent is that district.
-- One row per breach.
with districts as (
    select code as district_code
    from {{ ref('units') }}
    where
        level = 'district'
        -- Plan 86 is Hà Giang's: the former Tuyên Quang's units (in the registry for coverage) have
        -- no pilots to register under it.
        and parent_code = '{{ var("dxw_plan_province_before_2025") }}'
        and valid_from <= date '2022-03-31'
        and (valid_to is null or valid_to >= date '2022-03-31')
),

district_pilots as (
    select
        pilots.registered_by_code as district_code,
        pilots.unit_code,
        units.level as unit_level,
        units.parent_code
    from {{ ref('pilot_units') }} as pilots
    left join {{ ref('units') }} as units
        on
            pilots.unit_code = units.code
            and pilots.unit_valid_from = units.valid_from
    where pilots.pilot_level = 'district'
),

counted as (
    select
        districts.district_code,
        count(district_pilots.unit_code) as communes
    from districts
    left join district_pilots on districts.district_code = district_pilots.district_code
    group by districts.district_code
),

final as (
    select
        district_code,
        null as unit_code,
        communes || ' communes registered, the plan asks for 1 to 3' as problem
    from counted
    where communes not between 1 and 3
    union all
    select
        district_code,
        unit_code,
        'not a commune of this district in the registry' as problem
    from district_pilots
    where
        unit_level is distinct from 'commune'
        or parent_code is distinct from district_code
)

select * from final
