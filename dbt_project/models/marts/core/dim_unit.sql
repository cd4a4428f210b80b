-- One row per unit version: codes were reused by the 2025 reorganisation, so a unit is
-- identified by (unit_code, valid_from), or unit_key.
with units as (
    select * from {{ ref('units') }}
),

versions as (
    select
        units.*,
        case
            when units.valid_from < date '2025-07-01' then 'before_2025'
            else 'from_2025'
        end as unit_structure
    from units
),

final as (
    select
        versions.code || '@' || to_char(versions.valid_from, 'YYYY-MM-DD') as unit_key,
        versions.code as unit_code,
        versions.name as unit_name,
        versions.level as unit_level,
        versions.unit_type,
        nullif(versions.parent_code, '') as parent_code,
        versions.unit_structure,
        coalesce(
            case when versions.level = 'province' then versions.code end,
            case when parent.level = 'province' then parent.code end,
            parent.parent_code
        ) as province_code,
        case
            when versions.level = 'district' then versions.code
            when versions.level = 'commune' and parent.level = 'district' then versions.parent_code
        end as district_code,
        versions.valid_from,
        versions.valid_to,
        versions.valid_to is null or versions.valid_to >= current_date as is_current
    from versions
    left join versions as parent
        on
            versions.parent_code = parent.code
            and versions.unit_structure = parent.unit_structure
)

select * from final
