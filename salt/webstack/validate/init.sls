{#- First state of every role: stop the run on an invalid pillar, or on a peer's
    address in the mine that cannot be used, before anything changes. #}
webstack-validate-pillar-webstack_pillar-validated:
  webstack_pillar.validated:
    - name: webstack
    - order: 1
    - failhard: True
