-- One row per registered pilot of Plan 86 III.4 (seed pilot_units), with the pilot's unit version
-- from dim_unit. A department's subordinate unit has no unit version: it is named, not coded.
with pilots as (
    select * from {{ ref('pilot_units') }}
),

units as (
    select * from {{ ref('dim_unit') }}
),

final as (
    select
        pilots.pilot_level,
        pilots.registered_by_code,
        registrant.unit_name as registered_by_name,
        units.unit_key,
        pilots.unit_code,
        pilots.unit_valid_from,
        units.unit_structure,
        coalesce(units.unit_level, 'subordinate') as unit_level,
        coalesce(units.unit_name, pilots.subordinate_unit_name) as pilot_name,
        coalesce(units.parent_code, pilots.registered_by_code) as parent_code,
        pilots.registered_on,
        pilots.source_note
    from pilots
    left join units
        on
            pilots.unit_code = units.unit_code
            and pilots.unit_valid_from = units.valid_from
    left join units as registrant
        on
            pilots.registered_by_code = registrant.unit_code
            and pilots.registered_on >= registrant.valid_from
            and (registrant.valid_to is null or pilots.registered_on <= registrant.valid_to)
)

select * from final
