-- An observation for a unit that did not exist in the period (and has no successor of its
-- level to take it) is refused: it is not counted, and this warning names it so that the source
-- is corrected (fct_refused_observation has the reason). Every half-year's, on every build: they
-- are stored (int_observations_refused), and reading them costs a scan of a small table.
{{ config(severity='warn') }}

select
    source_system,
    source_unit_id,
    unit_code,
    indicator_code,
    period_id,
    refusal_reason
from {{ ref('fct_refused_observation') }}
