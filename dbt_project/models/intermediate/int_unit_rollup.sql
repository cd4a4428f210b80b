-- One row per (structure, ancestor unit, member unit): which unit's observations count towards
-- which unit. Within a structure every unit is its own member (levels_up 0) and a member of its
-- parents. Across the 1 July 2025 reorganisation, a pre-2025 unit is also a member of its
-- primary successor and that successor's parents, so 2022-2025 figures roll up under the new
-- structure too (split communes count once, towards their primary successor; a provincial body
-- towards its successor in the new province, through the 1 March 2025 mergers when there were).
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

-- A pre-2025 unit's first successor; one with no successor of its own (a body of the former
-- Tuyên Quang, which the registry does not list) follows its parent's.
first_successors as (
    select
        units.unit_code as old_code,
        coalesce(own.new_code, inherited.new_code) as new_code,
        coalesce(own.effective_date, inherited.effective_date) as effective_date
    from units
    left join succession as own on units.unit_code = own.old_code
    left join succession as inherited on units.parent_code = inherited.old_code
    where units.unit_structure = 'before_2025' and coalesce(own.new_code, inherited.new_code) is not null
),

-- The chain of successions up to a unit of the new structure: a department merged into another
-- on 1 March 2025 (Decree 45/2025) reaches the new province's department through the one that
-- absorbed it. A step follows the successor version valid on the succession's date, so a code
-- reused by the new structure (province 08) ends the chain.
chains as (
    select
        old_code,
        new_code,
        effective_date
    from first_successors

    union all

    select
        chains.old_code,
        next_step.new_code,
        next_step.effective_date
    from chains
    inner join units as successor
        on
            chains.new_code = successor.unit_code
            and successor.unit_structure = 'before_2025'
            and chains.effective_date >= successor.valid_from
            and coalesce(successor.valid_to, chains.effective_date) >= chains.effective_date
    inner join first_successors as next_step on successor.unit_code = next_step.old_code
),

successors as (
    select
        chains.old_code,
        chains.new_code
    from chains
    inner join units as successor
        on
            chains.new_code = successor.unit_code
            and successor.unit_structure = 'from_2025'
            and chains.effective_date >= successor.valid_from
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
