{#- The secrets of webstack/secrets.sls that this minion's roles receive, and no
    other: the keys that parameters/schema.yaml (linked here as schema.yaml) marks
    secret, for the roles it names. App and worker nodes also get their own Redis
    users' passwords, derived from the Redis password as webstack_config derives
    them on the cache node, never the Redis admin's. lb nodes get none (the TLS key
    comes from webstack/tls.sls, see top.sls). #}
{%- import_yaml 'webstack/schema.yaml' as schema %}
{%- import_yaml 'webstack/secrets.sls' as secrets %}
{%- import_yaml 'webstack/nodes.yaml' as nodes %}
{%- import_yaml 'webstack/cluster.sls' as cluster %}
{%- set roles = (nodes or {}).get(opts.id) or [] %}
{%- set all = ((secrets or {}).get('webstack') or {}) if secrets is mapping else {} %}
{%- set settings = ((cluster or {}).get('webstack') or {}) if cluster is mapping else {} %}
{%- set mine = {} %}
{#- A secret that the schema requires only with a setting (`when`: mariadb:password with
    db:engine mariadb) goes out only where the cluster's settings (webstack/cluster.sls)
    have it. #}
{%- set unused = [] %}
{%- for path, spec in schema | dictsort if spec.get('when') %}
{%-   for key, want in spec.when | dictsort %}
{%-     set found = namespace(value=settings) %}
{%-     for part in key.split(':') %}
{%-       set found.value = found.value.get(part) if found.value is mapping else none %}
{%-     endfor %}
{%-     if (schema[key].default if found.value is none else found.value) != want %}{% do unused.append(path) %}{% endif %}
{%-   endfor %}
{%- endfor %}
{%- for path, spec in schema | dictsort if spec.get('secret') and path not in unused
                                         and spec.get('roles', []) | select('in', roles) | list %}
{%-   set parts = path.split(':') %}
{%-   set found = namespace(src=all, dest=mine) %}
{%-   for part in parts[:-1] %}
{%-     set found.src = found.src.get(part) if found.src is mapping else none %}
{%-   endfor %}
{%-   if found.src is mapping and parts[-1] in found.src %}
{%-     for part in parts[:-1] %}
{%-       do found.dest.setdefault(part, {}) %}
{%-       set found.dest = found.dest[part] %}
{%-     endfor %}
{%-     do found.dest.update({parts[-1]: found.src[parts[-1]]}) %}
{%-   endif %}
{%- endfor %}
{%- set redis_pw = all.redis.get('password') if all.get('redis') is mapping else none %}
{#- the roles that receive the derived passwords, on a node without the admin's (the schema's) #}
{%- set derived_to = schema['redis:user_passwords:cache'].roles | select('in', roles) | list %}
{%- set admin_to = schema['redis:password'].roles | select('in', roles) | list %}
{%- if derived_to and not admin_to and redis_pw is string and redis_pw %}
{%-   do mine.setdefault('redis', {}).update({'user_passwords': {
        'cache': 'cache' | hmac_compute(redis_pw), 'broker': 'broker' | hmac_compute(redis_pw)}}) %}
{%- endif %}
webstack: {{ mine | json }}
