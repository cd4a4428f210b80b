-- One row per unit and each unit it rolls up into, itself included (depth 0): a commune
-- belongs to itself, its district and the province.
with recursive units as (
    select * from {{ ref('units') }}
),

rollup as (
    select
        code as ancestor_code,
        code as member_code,
        0 as depth
    from units

    union all

    select
        units.parent_code as ancestor_code,
        rollup.member_code,
        rollup.depth + 1 as depth
    from rollup
    inner join units on rollup.ancestor_code = units.code
    where units.parent_code is not null
),

final as (
    select * from rollup
)

select * from final
