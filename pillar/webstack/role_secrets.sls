{#- The secrets of webstack/secrets.sls that this minion's roles use, and no
    other: db nodes get the PostgreSQL password, cache nodes the Redis password,
    app and worker nodes Django's key, the PostgreSQL password and only their own
    Redis users' passwords (derived from the Redis password as map.jinja derives
    them on the cache node), never the Redis admin's. lb nodes get none (see
    top.sls). #}
{%- import_yaml 'webstack/secrets.sls' as secrets %}
{%- import_yaml 'webstack/nodes.yaml' as nodes %}
{%- set roles = (nodes or {}).get(opts.id) or [] %}
{%- set all = ((secrets or {}).get('webstack') or {}) if secrets is mapping else {} %}
{%- set wanted = [] %}
{%- if 'app' in roles or 'worker' in roles %}{% do wanted.extend(['app:secret_key', 'postgres:password']) %}{% endif %}
{%- if 'db' in roles %}{% do wanted.append('postgres:password') %}{% endif %}
{%- if 'cache' in roles %}{% do wanted.append('redis:password') %}{% endif %}
{%- set mine = {} %}
{%- for path in wanted | unique %}
{%-   set section, key = path.split(':') %}
{%-   if all.get(section) is mapping and key in all[section] %}
{%-     do mine.setdefault(section, {}).update({key: all[section][key]}) %}
{%-   endif %}
{%- endfor %}
{%- set redis_pw = all.redis.get('password') if all.get('redis') is mapping else none %}
{%- if ('app' in roles or 'worker' in roles) and 'cache' not in roles and redis_pw is string and redis_pw %}
{%-   do mine.setdefault('redis', {}).update({'user_passwords': {
        'cache': 'cache' | hmac_compute(redis_pw), 'broker': 'broker' | hmac_compute(redis_pw)}}) %}
{%- endif %}
webstack: {{ mine | json }}
