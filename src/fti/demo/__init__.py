"""The demo: generated card transactions and the fraud-detection FTI loop that ``fti demo`` runs."""
