# Example pillar for role single. Every key and its default is in docs/pillar.md;
# secrets do not belong in git: put them in pillar/webstack/secrets.sls on the
# master (see secrets.sls.example).
webstack:
  roles:
    - single
  app:
    name: webapp
    source: salt://example          # or a git URL with rev: main
    allowed_hosts:
      - localhost
      - 127.0.0.1
  wsgi:
    server: gunicorn                # or uwsgi (behind Nginx), mod_wsgi (Apache)
  process_manager: supervisord      # or systemd, where systemd is PID 1
  nginx:
    port: 80
    server_name: _
  celery:
    concurrency: 2
