-- One row per (structure, ancestor unit, member unit): which unit's observations count towards
-- which unit. Within a structure every unit is its own member (levels_up 0) and a member of its
-- parents. Across the 1 July 2025 reorganisation, a pre-2025 unit is also a member of its
-- primary successor and that successor's parents, so 2022-2025 figures roll up under the new
-- structure too (split communes count once, towards their primary successor; provincial
-- bodies, which have no successor of their own, count towards the new province).
with recursive units as (
    select * from {{ ref('dim_unit') }}
),

succession as (
    select * from {{ ref('unit_succession') }}
    where is_primary
),

memberships as (
    select
        unit_structure,
        unit_code as ancestor_code,
        unit_code as member_code,
        0 as levels_up
    from units

    union all

    select
        memberships.unit_structure,
        units.parent_code as ancestor_code,
        memberships.member_code,
        memberships.levels_up + 1 as levels_up
    from memberships
    inner join units
        on
            memberships.ancestor_code = units.unit_code
            and memberships.unit_structure = units.unit_structure
    where units.parent_code is not null
),

within_structure as (
    select
        unit_structure,
        ancestor_code,
        unit_structure as member_structure,
        member_code,
        levels_up
    from memberships
),

-- A pre-2025 unit with no successor of its own (a provincial body) follows its parent's:
-- Hà Giang's departments count towards province 08.
successors as (
    select
        units.unit_code as old_code,
        coalesce(own.new_code, inherited.new_code) as new_code
    from units
    left join succession as own on units.unit_code = own.old_code
    left join succession as inherited on units.parent_code = inherited.old_code
    where units.unit_structure = 'before_2025' and coalesce(own.new_code, inherited.new_code) is not null
),

across_reorganisation as (
    select
        memberships.unit_structure,
        memberships.ancestor_code,
        'before_2025' as member_structure,
        successors.old_code as member_code,
        memberships.levels_up + 1 as levels_up
    from successors
    inner join memberships
        on
            successors.new_code = memberships.member_code
            and memberships.unit_structure = 'from_2025'
),

final as (
    select * from within_structure
    union all
    select * from across_reorganisation
)

select * from final
