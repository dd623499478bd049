{#- The secrets of webstack/secrets.sls that this minion's roles use, and no
    other: db nodes get the PostgreSQL password, cache nodes the Redis password,
    app and worker nodes the three (Django's key; PostgreSQL; Redis, from which
    the app's own Redis users' passwords are derived). lb nodes get none (see
    top.sls). #}
{%- import_yaml 'webstack/secrets.sls' as secrets %}
{%- import_yaml 'webstack/nodes.yaml' as nodes %}
{%- set roles = (nodes or {}).get(opts.id) or [] %}
{%- set all = ((secrets or {}).get('webstack') or {}) if secrets is mapping else {} %}
{%- set wanted = [] %}
{%- if 'app' in roles or 'worker' in roles %}{% do wanted.extend(['app:secret_key', 'postgres:password', 'redis:password']) %}{% endif %}
{%- if 'db' in roles %}{% do wanted.append('postgres:password') %}{% endif %}
{%- if 'cache' in roles %}{% do wanted.append('redis:password') %}{% endif %}
{%- set mine = {} %}
{%- for path in wanted | unique %}
{%-   set section, key = path.split(':') %}
{%-   if all.get(section) is mapping and key in all[section] %}
{%-     do mine.setdefault(section, {}).update({key: all[section][key]}) %}
{%-   endif %}
{%- endfor %}
webstack: {{ mine | json }}
