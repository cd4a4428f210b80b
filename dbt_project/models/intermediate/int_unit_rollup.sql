-- One row per unit and each unit it rolls up into, itself included (levels_up 0): a commune
-- belongs to itself, its district and the province.
with recursive units as (
    select * from {{ ref('units') }}
),

memberships as (
    select
        code as ancestor_code,
        code as member_code,
        0 as levels_up
    from units

    union all

    select
        units.parent_code as ancestor_code,
        memberships.member_code,
        memberships.levels_up + 1 as levels_up
    from memberships
    inner join units on memberships.ancestor_code = units.code
    where units.parent_code is not null
),

final as (
    select * from memberships
)

select * from final
