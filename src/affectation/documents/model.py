"""The text of the national model agreement for the stage d'observation de seconde générale
et technologique (circular MENE2400643C of 28 March 2024, BO n°13, annex 1; the combined
model the national platform prints since 2024-2025), as the PDF and the DOCX default
template lay it out: the legal basis, the parties, Titre I (articles 1 to 9), the
educational annex (Titre II A) and the financial annex (Titre II B)."""

from __future__ import annotations

TITLE = ("Convention relative à l'organisation de la séquence d'observation en milieu "
         "professionnel des élèves de seconde générale et technologique")

LEGAL_BASIS = (
    "Vu le code du travail, notamment son article L. 4153-1 ;",
    "Vu le code de l'éducation, notamment ses articles L. 124-1, L. 134-9, L. 313-1, "
    "L. 331-4, L. 331-5, L. 332-3, L. 335-2, L. 411-3, L. 421-7, L. 911-4 et D. 331-1 à "
    "D. 331-9 ;",
    "Vu le code civil, notamment ses articles 1240 à 1242 ;",
    "Vu la circulaire n° 96-248 du 25 octobre 1996 relative à la surveillance des élèves ;",
    "Vu la circulaire du 10 février 2021 relative au projet d'accueil individualisé pour "
    "raison de santé ;",
    "Vu la circulaire MENE2400643C du 28 mars 2024 relative aux séquences d'observation en "
    "milieu professionnel des élèves de seconde générale et technologique ;",
)

# Titre I: general provisions. Each article: (heading, paragraphs).
ARTICLES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Article 1", (
        "La présente convention a pour objet la mise en œuvre d'une séquence d'observation "
        "en milieu professionnel au bénéfice de l'élève de seconde générale et "
        "technologique désigné(e) dans l'annexe pédagogique.",)),
    ("Article 2", (
        "Les objectifs et les modalités de la séquence d'observation sont consignés dans "
        "l'annexe pédagogique. Les modalités de prise en charge des frais afférents à cette "
        "séquence ainsi que les modalités d'assurance sont définies dans l'annexe "
        "financière.",)),
    ("Article 3", (
        "L'organisation de la séquence d'observation est déterminée d'un commun accord entre "
        "le chef d'entreprise ou le responsable de l'organisme d'accueil et le chef "
        "d'établissement.",)),
    ("Article 4 – Statut de l'élève", (
        "L'élève demeure sous statut scolaire durant la séquence d'observation en milieu "
        "professionnel. Il reste placé sous l'autorité et la responsabilité du chef "
        "d'établissement.",
        "Il ne peut prétendre à aucune rémunération ou gratification de l'entreprise ou de "
        "l'organisme d'accueil.")),
    ("Article 5 – Activités et sécurité", (
        "Durant la séquence d'observation, l'élève n'a pas à concourir au travail dans "
        "l'entreprise ou l'organisme d'accueil.",
        "Il peut effectuer des enquêtes en liaison avec les enseignements et participer à des "
        "activités, des essais ou des démonstrations en liaison avec les enseignements et les "
        "objectifs de formation de sa classe, sous le contrôle des personnels responsables de "
        "son encadrement en milieu professionnel.",
        "L'élève ne peut accéder aux machines, appareils ou produits dont l'usage est proscrit "
        "aux mineurs par les articles D. 4153-15 à D. 4153-37 du code du travail. Il ne peut "
        "ni procéder à des manœuvres ou manipulations sur d'autres machines, produits ou "
        "appareils de production, ni effectuer les travaux légers autorisés aux mineurs par "
        "ce même code.",
        "Si l'élève bénéficie d'un projet d'accueil individualisé (PAI), sa famille veille à "
        "ce que sa trousse d'urgence l'accompagne sur le lieu de la séquence.")),
    ("Article 6 – Assurances", (
        "Le chef d'entreprise ou le responsable de l'organisme d'accueil prend les "
        "dispositions nécessaires pour garantir sa responsabilité civile chaque fois qu'elle "
        "sera engagée (articles 1240 à 1242 du code civil), soit en souscrivant une assurance "
        "particulière garantissant sa responsabilité civile en cas de faute imputable à "
        "l'entreprise ou à l'organisme d'accueil à l'égard de l'élève, soit en ajoutant à son "
        "contrat « responsabilité civile entreprise » ou « responsabilité civile "
        "professionnelle » un avenant relatif à l'accueil d'élèves.",
        "Le chef d'établissement contracte une assurance couvrant la responsabilité civile des "
        "élèves placés sous sa responsabilité pour les dommages qu'ils pourraient causer "
        "pendant la séquence d'observation, en dehors de l'entreprise ou de l'organisme "
        "d'accueil, ou sur le trajet menant au lieu de la séquence ou au domicile.",
        "L'élève, ou ses représentants légaux s'il est mineur, souscrit et produit une "
        "attestation d'assurance couvrant sa responsabilité civile pour les dommages qu'il "
        "pourrait causer ou subir en milieu professionnel et dont la cause ne serait "
        "imputable ni à l'entreprise ou à l'organisme d'accueil, ni au chef d'établissement.")),
    ("Article 7 – Accidents", (
        "En cas d'accident survenant à l'élève, soit en milieu professionnel, soit au cours "
        "du trajet, le chef d'entreprise ou le responsable de l'organisme d'accueil alerte "
        "sans délai le chef d'établissement par tout moyen à sa disposition et lui adresse la "
        "déclaration d'accident dûment renseignée dans la même journée.",)),
    ("Article 8 – Violences et harcèlement", (
        "L'organisme d'accueil protège l'élève contre les violences sexistes et sexuelles et "
        "le harcèlement ; il l'informe dès son arrivée des personnes à qui s'adresser. Le chef "
        "d'établissement et le responsable de l'organisme d'accueil se tiennent mutuellement "
        "informés de toute difficulté, notamment de toute absence de l'élève, et prennent "
        "d'un commun accord les dispositions propres à la résoudre.",)),
    ("Article 9 – Durée", (
        "La présente convention est signée pour la durée de la séquence d'observation, fixée "
        "pour les élèves de seconde générale et technologique à une semaine (dans deux lieux "
        "différents) ou deux semaines consécutives, durant le dernier mois de l'année "
        "scolaire.",)),
)

REGULATORY_LANDMARKS = (
    "Durées maximales de présence : 35 heures par semaine et 7 heures par jour.",
    "Repos quotidien : 14 heures consécutives au minimum ; repos hebdomadaire : deux jours "
    "consécutifs.",
    "Dès que le temps de présence quotidien atteint 4 h 30, l'élève bénéficie d'une pause "
    "de 30 minutes consécutives au minimum.",
    "Aucune présence de nuit : ni avant 6 heures, ni après 20 heures.",
)

OBJECTIVES = (
    "La séquence d'observation a pour objectif de sensibiliser l'élève à l'environnement "
    "technologique, économique et professionnel, en liaison avec les programmes "
    "d'enseignement, notamment dans le cadre de son éducation à l'orientation.",
)

SKILLS = (
    "Observer : décrire l'environnement professionnel qui l'accueille.",
    "Communiquer : savoir-être, posture face aux interlocuteurs, questions, propositions.",
    "Comprendre : curiosité, enjeux des métiers, relations entre les acteurs.",
    "S'impliquer : motivation, participation à certaines démarches.",
)

FOLLOW_UP = (
    "La séquence d'observation est précédée d'un temps de préparation et suivie d'un temps "
    "d'exploitation ou de restitution qui permet à l'élève de valoriser cette expérience.",
)

FINANCIAL = (
    ("1 – Hébergement", "L'hébergement de l'élève en milieu professionnel n'entre pas dans le "
     "cadre de la présente convention."),
    ("2 – Restauration", "L'élève peut déjeuner au restaurant du personnel, à la charge de sa "
     "famille, sauf prise en charge par l'organisme d'accueil précisée ci-dessous."),
    ("3 – Transport", "Le déplacement de l'élève est régi par la circulaire n° 96-248 du "
     "25 octobre 1996. Un déplacement en début ou en fin de temps scolaire est assimilé au "
     "trajet habituel entre le domicile et l'établissement ; l'élève peut s'y rendre ou en "
     "revenir seul."),
    ("4 – Assurance", "La souscription d'une police d'assurance est obligatoire pour toutes "
     "les parties à la présente convention (voir l'article 6)."),
)

SIGNATORIES = (
    ("etablissement", "Le chef d'établissement"),
    ("employeur", "Le représentant de l'organisme d'accueil"),
    ("eleve", "L'élève"),
    ("representant_legal", "Le(s) représentant(s) légal(aux)"),
)
