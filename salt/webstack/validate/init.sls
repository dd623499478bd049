{#- First state of every role: stop the run on an invalid pillar, before anything changes. #}
webstack-validate-pillar-webstack_pillar-validated:
  webstack_pillar.validated:
    - name: webstack
    - order: 1
    - failhard: True
