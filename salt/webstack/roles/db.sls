{#- Role db: PostgreSQL on the private address, pg_hba for the app and worker nodes. #}
include:
  - webstack.validate
  - webstack.postgres
