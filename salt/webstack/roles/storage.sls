{#- Role storage: GlusterFS, the volume of the uploads that every app and worker
    node mounts (their releases' media directory). #}
include:
  - webstack.validate
  - webstack.glusterfs.server
