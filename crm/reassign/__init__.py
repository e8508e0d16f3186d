"""Handing a customer's advisor over in bulk: a leaving advisor's customers to another."""
