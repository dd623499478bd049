{#- The server's certificate and key for TLS, in one PEM file (certificate, chain,
    key) that Nginx, Apache and HAProxy all read as root before they drop
    privileges: mode 0600, never diffed in the output. The certificate alone goes
    to <name>.crt (0644), for clients to trust. Included by the web server or the
    load balancer that ends TLS on this host. #}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import webstack with context %}
{%- set tls = webstack.tls %}

webstack-tls-package-pkg-installed:
  pkg.installed:
    - pkgs: {{ webstack.pkgs.openssl | json }}

webstack-tls-dir-file-directory:
  file.directory:
    - name: {{ webstack.tls_dir }}
    - user: root
    - group: root
    - mode: '0755'
    - makedirs: True

{%- if tls.self_signed %}
{#- No certificate in the pillar: a self-signed one (ECDSA P-256) for the host's
    names, made again when the names or the validity change, or 30 days before it
    expires. Clients must be told to trust <name>.crt. #}
{%- set want = tls.subject ~ ' ' ~ tls.san ~ ' ' ~ tls.self_signed_days %}
webstack-tls-self-signed-certificate-cmd-run:
  cmd.run:
    - name: |
        set -e
        umask 077
        tmp=$(mktemp -d)
        trap 'rm -rf "$tmp"' EXIT
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -sha256 \
            -days {{ tls.self_signed_days }} -subj {{ tls.subject | quote }} \
            -addext {{ ('subjectAltName=' ~ tls.san) | quote }} -addext 'extendedKeyUsage=serverAuth' \
            -keyout "$tmp/key" -out "$tmp/crt" 2>"$tmp/err" || { cat "$tmp/err" >&2; exit 1; }
        cat "$tmp/crt" "$tmp/key" > "$tmp/pem"
        chmod 0644 "$tmp/crt"
        mv -f "$tmp/pem" {{ tls.pem | quote }}
        mv -f "$tmp/crt" {{ tls.crt | quote }}
        printf '%s\n' {{ want | quote }} > {{ tls.spec | quote }}
        chmod 0644 {{ tls.spec | quote }}
    - unless: {{ ('test -s ' ~ tls.pem | quote ~ ' && test "$(cat ' ~ tls.spec | quote ~ ' 2>/dev/null)" = '
                  ~ want | quote ~ ' && openssl x509 -in ' ~ tls.crt | quote
                  ~ ' -noout -checkend 2592000 >/dev/null') | json }}
    - require:
      - pkg: webstack-tls-package-pkg-installed
      - file: webstack-tls-dir-file-directory
{%- else %}
webstack-tls-pem-file-managed:
  file.managed:
    - name: {{ tls.pem }}
    - source: salt://{{ tpldir }}/files/server.pem.jinja
    - template: jinja
    - context:
        tplroot: {{ tplroot }}
        part: pem
    - user: root
    - group: root
    - mode: '0600'
    - show_changes: False
    - require:
      - file: webstack-tls-dir-file-directory

webstack-tls-crt-file-managed:
  file.managed:
    - name: {{ tls.crt }}
    - source: salt://{{ tpldir }}/files/server.pem.jinja
    - template: jinja
    - context:
        tplroot: {{ tplroot }}
        part: crt
    - user: root
    - group: root
    - mode: '0644'
    - show_changes: False
    - require:
      - file: webstack-tls-dir-file-directory

webstack-tls-self-signed-spec-file-absent:
  file.absent:
    - name: {{ tls.spec }}
{%- endif %}
