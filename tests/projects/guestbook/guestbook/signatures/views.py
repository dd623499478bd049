from django.shortcuts import redirect
from django.shortcuts import render

from .forms import SignatureForm
from .models import Signature


def index(request):
    if request.method == "POST":
        form = SignatureForm(request.POST)
        if form.is_valid():
            form.save()
            return redirect("home")
    else:
        form = SignatureForm()
    return render(
        request,
        "signatures/index.html",
        {"form": form, "signatures": Signature.objects.all()[:50]},
    )
