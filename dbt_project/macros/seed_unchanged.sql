-- Jinja control flow; the SQL it emits is linted in the models it lands in.
-- noqa: disable=all
{#-
  dbt's seed materialization, except that a seed whose file, column types and dbt version are
  those of its last load is left as it is. A national unit list is 11,000 rows that dbt parses
  and inserts again on every build, several seconds for data that changes once in years; here
  an unchanged seed costs one lookup. The fingerprint of the last load is kept beside the seed
  tables (`<schema>.dxw_seed_loads`), so dropping the schema forgets it; `--full-refresh`
  always reloads.
-#}
{% materialization seed, default %}

  {%- set identifier = model['alias'] -%}
  {%- set full_refresh_mode = (should_full_refresh()) -%}

  {%- set old_relation = adapter.get_relation(database=database, schema=schema, identifier=identifier) -%}

  {%- set exists_as_table = (old_relation is not none and old_relation.is_table) -%}
  {%- set exists_as_view = (old_relation is not none and old_relation.is_view) -%}

  {%- set fingerprint = local_md5(
      model.checksum.checksum ~ '|' ~ tojson(config.get('column_types') or {}) ~ '|' ~ dbt_version
  ) -%}
  {%- set loads = api.Relation.create(database=database, schema=schema, identifier='dxw_seed_loads') -%}
  {#- dbt hashes a seed's content only up to 1 MiB; a larger file's checksum is its path, which
      does not change with the content: such a seed is reloaded on every build. -#}
  {%- set content_hashed = model.checksum.name == 'sha256' -%}
  {%- if exists_as_table and content_hashed and not flags.FULL_REFRESH
        and dxw_last_seed_load(loads, identifier) == fingerprint -%}
    {#- dbt's seed task reads the loaded table back from this result: an empty one. -#}
    {%- do store_result('agate_table', response='OK', agate_table=run_query('select 1 as unchanged where false')) -%}
    {% call noop_statement('main', 'UNCHANGED', 'UNCHANGED', 0) %}
      -- {{ old_relation }} already holds this file
    {% endcall %}
    {{ return({'relations': [this.incorporate(type='table')]}) }}
  {%- endif -%}

  {%- set grant_config = config.get('grants') -%}
  {%- set agate_table = load_agate_table() -%}
  -- grab current tables grants config for comparison later on

  {%- do store_result('agate_table', response='OK', agate_table=agate_table) -%}

  {{ run_hooks(pre_hooks, inside_transaction=False) }}

  -- `BEGIN` happens here:
  {{ run_hooks(pre_hooks, inside_transaction=True) }}

  -- build model
  {% set create_table_sql = "" %}
  {% if exists_as_view %}
    {{ exceptions.raise_compiler_error("Cannot seed to '{}', it is a view".format(old_relation.render())) }}
  {% elif exists_as_table %}
    {% set create_table_sql = reset_csv_table(model, full_refresh_mode, old_relation, agate_table) %}
  {% else %}
    {% set create_table_sql = create_csv_table(model, agate_table) %}
  {% endif %}

  {% set code = 'CREATE' if full_refresh_mode else 'INSERT' %}
  {% set rows_affected = (agate_table.rows | length) %}
  {% set sql = "" %}
  {% if rows_affected > 0 %}
    {% set sql = load_csv_rows(model, agate_table) %}
  {% endif %}

  {% call noop_statement('main', code ~ ' ' ~ rows_affected, code, rows_affected) %}
    {{ get_csv_sql(create_table_sql, sql) }};
  {% endcall %}

  {% set target_relation = this.incorporate(type='table') %}

  {% set should_revoke = should_revoke(old_relation, full_refresh_mode) %}
  {% do apply_grants(target_relation, grant_config, should_revoke=should_revoke) %}

  {% do persist_docs(target_relation, model) %}

  {% if full_refresh_mode or not exists_as_table %}
    {% do create_indexes(target_relation) %}
  {% endif %}

  {{ run_hooks(post_hooks, inside_transaction=True) }}

  {% call statement('dxw_record_seed_load') %}
    -- Seeds load in parallel threads: one creates the table, the others wait for it.
    select pg_advisory_xact_lock(hashtext('{{ loads }}'));
    create table if not exists {{ loads }} (
        seed text primary key,
        fingerprint text not null,
        loaded_at timestamptz not null default now()
    );
    insert into {{ loads }} (seed, fingerprint) values ('{{ identifier }}', '{{ fingerprint }}')
    on conflict (seed) do update set fingerprint = excluded.fingerprint, loaded_at = excluded.loaded_at;
  {% endcall %}

  -- `COMMIT` happens here
  {{ adapter.commit() }}

  {{ run_hooks(post_hooks, inside_transaction=False) }}

  {{ return({'relations': [target_relation]}) }}

{% endmaterialization %}


{#- The fingerprint of `seed`'s last load, or none. -#}
{% macro dxw_last_seed_load(loads, seed) -%}
    {%- if adapter.get_relation(database=loads.database, schema=loads.schema, identifier=loads.identifier) is none -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set found = run_query("select fingerprint from " ~ loads ~ " where seed = '" ~ seed ~ "'") -%}
    {{ return(found.columns[0].values()[0] if found.rows | length else none) }}
{%- endmacro %}
