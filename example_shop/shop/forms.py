from __future__ import annotations

from django import forms
from django.contrib.auth.forms import UserCreationForm


class AddToCartForm(forms.Form):
    quantity = forms.IntegerField(min_value=1, max_value=99, initial=1)


class UpdateCartForm(forms.Form):
    quantity = forms.IntegerField(min_value=0, max_value=99)


class CheckoutForm(forms.Form):
    email = forms.EmailField(help_text="We send the order confirmation here.")
    full_name = forms.CharField(max_length=200, label="Full name")
    address = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), label="Delivery address")


class SignupForm(UserCreationForm):
    email = forms.EmailField(required=True)

    class Meta(UserCreationForm.Meta):
        fields = ("username", "email")
