{#- First state of every role: stop the run on an invalid pillar, before anything
    changes. Cluster roles also need the private addresses of their peers. #}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import webstack with context %}
webstack-validate-pillar-webstack_pillar-validated:
  webstack_pillar.validated:
    - name: webstack
    - addresses: {{ webstack.cluster.addresses | json }}
    - order: 1
    - failhard: True
