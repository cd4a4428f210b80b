-- Every unit of the pilot registry exists in the unit registry on the day it was registered:
-- the registering unit at the level its pilots are (the province's board for province-level
-- pilots, a department or a district for its own), and the pilot itself, a unit version
-- (unit_code, unit_valid_from) valid that day. A unit is a pilot once, at one level (the marts
-- show one pilot_level per unit). One row per breach.
with pilots as (
    select * from {{ ref('pilot_units') }}
),

units as (
    select * from {{ ref('units') }}
),

checked as (
    select
        pilots.registered_by_code,
        pilots.pilot_level,
        pilots.unit_code,
        registrant.code as registrant_code,
        pilot.code as pilot_code
    from pilots
    left join units as registrant
        on
            pilots.registered_by_code = registrant.code
            and pilots.pilot_level = registrant.level
            and pilots.registered_on >= registrant.valid_from
            and (registrant.valid_to is null or pilots.registered_on <= registrant.valid_to)
    left join units as pilot
        on
            pilots.unit_code = pilot.code
            and pilots.unit_valid_from = pilot.valid_from
            and pilots.registered_on >= pilot.valid_from
            and (pilot.valid_to is null or pilots.registered_on <= pilot.valid_to)
),

final as (
    select
        registered_by_code,
        pilot_level,
        unit_code,
        case
            when registrant_code is null then 'registering unit not in the registry at this level that day'
            else 'pilot unit version not in the registry on the day it was registered'
        end as problem
    from checked
    where registrant_code is null or (unit_code is not null and pilot_code is null)
    union all
    select
        min(registered_by_code) as registered_by_code,
        min(pilot_level) as pilot_level,
        unit_code,
        count(*) || ' registrations of the same unit' as problem
    from pilots
    where unit_code is not null
    group by unit_code
    having count(*) > 1
)

select * from final
