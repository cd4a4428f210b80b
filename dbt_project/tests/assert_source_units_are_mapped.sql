-- Every unit a source reports must map to a canonical unit through the crosswalk;
-- an unmapped unit would silently drop out of the facts.
select distinct observations.source_unit_id
from {{ ref('int_observations_unpivoted') }} as observations
left join {{ ref('unit_crosswalk') }} as crosswalk
    on
        observations.source_system = crosswalk.source
        and observations.source_unit_id = crosswalk.source_unit_id
where
    crosswalk.unit_code is null
    -- The half-years the build is about to rebuild (macros/incremental_periods.sql).
    and {{ periods_to_build_condition('observations.period_id') }}
