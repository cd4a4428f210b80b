-- Plan 86 III.4 b): each provincial department, sector and mass organisation picks at least 01
-- of its own subordinate units (đơn vị thuộc và trực thuộc) as a department-level pilot. The
-- subordinate units are not in the unit registry: they are registered by name, without a code.
-- Every department that existed when the registration closed (end of Q1 2022) must have one.
-- One row per breach.
with departments as (
    select code as department_code
    from {{ ref('units') }}
    where
        level = 'department'
        -- Plan 86 is Hà Giang's: the former Tuyên Quang's units (in the registry for coverage) have
        -- no pilots to register under it.
        and parent_code = '{{ var("dxw_plan_province_before_2025") }}'
        and valid_from <= date '2022-03-31'
        and (valid_to is null or valid_to >= date '2022-03-31')
),

department_pilots as (
    select
        registered_by_code as department_code,
        unit_code,
        subordinate_unit_name
    from {{ ref('pilot_units') }}
    where pilot_level = 'department'
),

final as (
    select
        departments.department_code,
        null as subordinate_unit_name,
        'no subordinate unit registered' as problem
    from departments
    left join department_pilots
        on
            departments.department_code = department_pilots.department_code
            and department_pilots.subordinate_unit_name is not null
    where department_pilots.department_code is null
    union all
    select
        department_code,
        subordinate_unit_name,
        'a subordinate unit is registered by its name, with no unit code' as problem
    from department_pilots
    where unit_code is not null or coalesce(trim(subordinate_unit_name), '') = ''
)

select * from final
