-- Plan 86 III.4 b): the pilot lists are registered with the provincial board in the first
-- quarter of 2022.
select
    registered_by_code,
    pilot_level,
    unit_code,
    subordinate_unit_name,
    registered_on
from {{ ref('pilot_units') }}
where registered_on is null or registered_on not between date '2022-01-01' and date '2022-03-31'
